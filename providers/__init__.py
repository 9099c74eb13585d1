"""Mobility providers' GBFS availability (push and poll). Not built yet: see the Providers issue."""
