"""The mlops-hub Pulumi program: settings model, export keys and the thin `__main__`."""
