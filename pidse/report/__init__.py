"""The output edge: numbers become text, tables, JSON, CSV, Markdown and plots here and nowhere else."""
