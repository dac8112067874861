"""Test support shared by every layer's tests (local servers, fakes)."""
