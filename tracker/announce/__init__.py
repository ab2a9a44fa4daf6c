"""The BitTorrent tracker endpoints: announce and scrape (plain Django views, bencoded)."""
