"""The MT5 REST bridge (`server`, run beside the terminal) and its client (`Mt5RestClient`)."""
