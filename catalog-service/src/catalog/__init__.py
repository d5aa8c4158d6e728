"""MPP Digital catalog service: regions, agencies, MPP locations and the versioned service catalogue (standar pelayanan)."""
