// LangGraph's checkpointer conformance suite (@langchain/langgraph-checkpoint-validation) against
// ChatstoreSaver, run by vitest (the suite's own runner): `npm run test:conformance`.
import { validate } from '@langchain/langgraph-checkpoint-validation';
import initializer from './initializer.js';

validate(initializer);
