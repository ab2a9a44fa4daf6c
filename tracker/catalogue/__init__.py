"""The catalogue: categories, forums, torrents with their files, comments and bookmarks; .torrent files."""
