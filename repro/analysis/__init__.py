"""The research-question analysis: task similarity, semantic distance and the gain (issue 11)."""
