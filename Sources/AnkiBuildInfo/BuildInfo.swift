/// What the program was built from. `commit` is generated at every build by the EmbedDataPlugin (from
/// the git metadata); this module is its own so that a new commit rebuilds only it and the command-line
/// front end, not every module that reads the embedded data.
public enum BuildInfo {}
