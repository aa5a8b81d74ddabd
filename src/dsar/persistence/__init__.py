"""The engine's own database: tables, the SQL repositories of :mod:`dsar.services.ports`, the
unit of work over them, migrations. The only package that imports SQL.

Entry points build one :class:`dsar.persistence.uow.SqlUnitOfWorkFactory` per engine and key
provider; schema changes go through :func:`dsar.persistence.database.upgrade` (``dsar db
upgrade``), everything else only checks the schema (:func:`dsar.persistence.database.check_schema`).
"""
