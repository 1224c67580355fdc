"""Scale-out: the same crawl as shards on many workers (Dramatiq on Redis, one PostgreSQL)."""
