"""A/B testing of recommendation algorithms: assignment, lifecycle, impressions, statistics, results."""
