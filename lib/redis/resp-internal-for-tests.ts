export { RespParser } from './resp';
export { CommandEncoder, encodeCommand } from './encode';
export { RedisError } from '../errors';
