"""Object stores for exports: a local folder by default."""
