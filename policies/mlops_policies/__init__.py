"""The mlops-hub policies, one module per policy; each module exports POLICY and a pure check."""
