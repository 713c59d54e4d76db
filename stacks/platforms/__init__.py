"""One module per cloud: its network, GPU cluster and add-ons, built from the settings.

The program imports only the modules of the clouds a stack uses: a provider SDK costs up to a second to import.
"""
