"""The measured-perplexity database (db.py: SQLite, atomic writes) and its rows and CSV layouts (rows.py)."""
