/**
 * Every CLI command, in the order the help lists them.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { clusterCommands } from "./cluster.ts";
import { executionCommands } from "./executions.ts";
import { runCommand } from "./run.ts";
import { scheduleCommands } from "./schedules.ts";
import { workflowCommands } from "./workflows.ts";

/** The commands of `deno task cli`. */
export const COMMANDS: readonly Command[] = [
  ...workflowCommands,
  runCommand,
  ...executionCommands,
  ...clusterCommands,
  ...scheduleCommands,
];
