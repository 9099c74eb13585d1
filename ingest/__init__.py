"""Build side: reads GTFS and OSM with gtfs-kit, osmium, osmnx and networkx and compiles them
into the int arrays the routing core runs on. Never imported on the query path.
"""
