//! Test helpers (dev-dependency only): real etcd processes on free loopback ports.
