"""The middleware's job stores behind one interface (base.JobStore), chosen by choice.open_store."""
