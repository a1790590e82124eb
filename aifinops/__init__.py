"""The aifinops command: offline preview, policy packs over gRPC, checkov, cost estimate, reports."""
