"""Thin wrappers over the kernel: syscalls, namespaces, rootfs, devices, process set-up."""
