"""The Telegram front end of newsqa, built on the `index` package."""
