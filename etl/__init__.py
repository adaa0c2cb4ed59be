"""Extract, normalise, load; then compliance, metrics, forecasts and insights."""
