module github.com/mongoelector/mongoelector/bindings/go

go 1.22
