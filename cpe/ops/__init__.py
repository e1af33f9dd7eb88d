"""Operations: health endpoints, Prometheus metrics, request ids and structured logs
(docs/deploy.md "Health, metrics, logs")."""
