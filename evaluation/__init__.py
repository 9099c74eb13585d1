"""Policy evaluation: trips over an OD matrix, priced and compared under policies."""
