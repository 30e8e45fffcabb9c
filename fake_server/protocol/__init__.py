"""Protocol data and rules: ids, the error table, and the schemas compiled from ``schemas/``."""
