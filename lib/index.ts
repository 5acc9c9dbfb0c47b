// The public surface of evloop (../shared/API.md). Each concept lives in its own file.
export { binding } from './binding';
