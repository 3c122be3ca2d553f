"""Configuration: composing ``conf/`` (:mod:`.compose`, the one way), reading one option
(:mod:`.options`), the resolvers the YAML uses (:mod:`.resolvers`), and turning a composed run config
into the typed, validated :class:`~simbench.config.build.RunSpec` the library takes (:mod:`.build`)."""
