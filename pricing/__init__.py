"""Fares, rental prices and equity policies. Not built yet: see the Pricing issue."""
