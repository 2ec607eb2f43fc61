"""Anomalies of a workspace (the seed's ``anomalies``): what the detector found and its
lifecycle, active -> acknowledged -> resolved. The detector's rules come later."""
