"""The expansion backtest: replay a history through the pure expansion domain (`replay`) and judge
its upsell triggers against the upgrades that followed (`judge`)."""
