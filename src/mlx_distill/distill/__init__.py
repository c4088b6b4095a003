"""The teacher side of distillation: collection, shadow recording, the quality gate, the router with
teacher fallback, drift watch, the cost ledger and the economics report."""
