"""The API views of the site's rules, one module per feature."""
