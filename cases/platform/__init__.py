"""The platform's protocol between buyer and merchant: the buyer's request, what the law gives
it, and the merchant's deadlines where silence decides (STANDARDS S15)."""
