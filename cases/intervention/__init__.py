"""The platform steps in (平台介入): a buyer's request the merchant and buyer did not settle goes to
the platform, which hears both sides within evidence windows, rules, pays first when the merchant
does not carry the ruling out, and hears one appeal (STANDARDS S16)."""
