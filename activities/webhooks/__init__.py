"""Outbound webhooks (STANDARDS S13): subscriptions and the delivery of each event to them.

`subscriptions` keeps who is told of what (`aftersales webhooks`, the API); `contracts` names the
`WebhookDelivery` workflow's input and outcome; `delivery` holds its activities over a provider
that signs and posts each attempt.
"""
