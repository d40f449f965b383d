"""The demo that makes a fresh `make run` show everything moving: a small torch model
served over HTTP with its own /metrics, a light load on it, and one training run."""
