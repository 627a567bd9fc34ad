"""Static checks over the compiled project: contracts, consumer reads, expectations, versions."""
