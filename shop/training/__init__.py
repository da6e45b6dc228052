"""Training the recommendation engine outside the web workers: the queued and scheduled jobs."""
