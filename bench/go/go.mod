module github.com/mongoelector/mongoelector/bench/go

go 1.22

require github.com/mongoelector/mongoelector/bindings/go v0.0.0

replace github.com/mongoelector/mongoelector/bindings/go => ../../bindings/go
