"""Strategy report pipeline: sources → validated metrics → KPIs → charts → HTML → PDF → archive."""
