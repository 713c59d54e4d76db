"""Networks the clusters run in, one module per cloud (import the one you use: provider SDKs are big)."""
