"""The engine's own database: tables, repository, migrations. The only package that imports SQL."""
