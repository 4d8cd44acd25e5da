"""OTLP collector mock (HTTP on 4318, gRPC on 4317)."""
