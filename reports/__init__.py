"""Figures, HTML reports and the `alliance` command line."""
