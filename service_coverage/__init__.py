"""Service coverage: where the shared vehicles are over the day (aggregated history),
service measures per zone and class, and distribution rules with their compliance.
"""
