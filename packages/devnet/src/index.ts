export * from "./banner.ts";
export * from "./daemons.ts";
export * from "./init.ts";
export * from "./layout.ts";
export * from "./options.ts";
export * from "./supervisor.ts";
