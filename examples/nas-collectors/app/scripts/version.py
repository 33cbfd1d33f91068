# The release of the collectors' code, reported by every control API (GET /api/status).
VERSION = "1.0.0"
