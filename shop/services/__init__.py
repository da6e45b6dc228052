"""Database reads and writes that several blueprints share."""
