"""The API shapes of the site's rules, one module per feature."""
